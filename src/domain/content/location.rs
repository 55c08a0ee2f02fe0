//! Location messages: a point on the map with an optional name and address, its stored form
//! and Meta's `location` object.

use serde::{Deserialize, Serialize};

use super::{ContentError, ContentErrorKind::InvalidRequest, ContentInput, check_max, present};

/// Meta documents no limit for a location's name and address; this keeps them bounded.
const LOCATION_TEXT_MAX: usize = 1000;

// A point on the map, in decimal degrees: GraphQL's `LocationInput` and the REST body's
// `LocationField`. Neither has a description, so this has no doc comment: it would become theirs.
#[derive(
    Debug, Clone, Default, Serialize, Deserialize, async_graphql::InputObject, utoipa::ToSchema,
)]
#[graphql(name = "LocationInput")]
#[schema(as = LocationField)]
pub struct LocationInput {
    pub latitude: f64,
    pub longitude: f64,
    pub name: Option<String>,
    pub address: Option<String>,
}

/// A location message.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    pub name: Option<String>,
    pub address: Option<String>,
}

impl Location {
    pub(super) fn parse(location: Option<LocationInput>) -> Result<Self, ContentError> {
        let location = location.ok_or_else(|| {
            ContentError::invalid(
                "a location message needs `location` with `latitude` and `longitude`",
            )
        })?;
        if !location.latitude.is_finite() || !(-90.0..=90.0).contains(&location.latitude) {
            return Err(ContentError::invalid(
                "latitude must be a number from -90 to 90",
            ));
        }
        if !location.longitude.is_finite() || !(-180.0..=180.0).contains(&location.longitude) {
            return Err(ContentError::invalid(
                "longitude must be a number from -180 to 180",
            ));
        }
        let name = present(location.name);
        let address = present(location.address);
        if let Some(name) = &name {
            check_max(InvalidRequest, "location name", name, LOCATION_TEXT_MAX)?;
        }
        if let Some(address) = &address {
            check_max(
                InvalidRequest,
                "location address",
                address,
                LOCATION_TEXT_MAX,
            )?;
        }
        Ok(Self {
            latitude: location.latitude,
            longitude: location.longitude,
            name,
            address,
        })
    }

    /// `📍 name` (or the address, or the coordinates).
    pub(super) fn preview_text(&self) -> String {
        match self.name.as_ref().or(self.address.as_ref()) {
            Some(label) => format!("📍 {label}"),
            None => format!("📍 {}, {}", self.latitude, self.longitude),
        }
    }

    pub(super) fn to_stored(&self) -> StoredLocation {
        StoredLocation {
            latitude: self.latitude,
            longitude: self.longitude,
            name: self.name.clone(),
            address: self.address.clone(),
        }
    }

    pub(super) fn to_object(&self) -> LocationObject {
        LocationObject {
            latitude: self.latitude,
            longitude: self.longitude,
            name: self.name.clone(),
            address: self.address.clone(),
        }
    }
}

/// The stored body of a location message:
/// `{"type": "location", "latitude", "longitude", "name"?, "address"?}`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct StoredLocation {
    latitude: f64,
    longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    address: Option<String>,
}

impl StoredLocation {
    pub(super) fn into_input(self) -> ContentInput {
        ContentInput {
            location: Some(LocationInput {
                latitude: self.latitude,
                longitude: self.longitude,
                name: self.name,
                address: self.address,
            }),
            ..ContentInput::typed("location")
        }
    }
}

/// Meta's `location` object: `{"latitude", "longitude", "name"?, "address"?}`. The coordinates
/// are sent as JSON numbers, the decimal degrees of Meta's parameter table (its request syntax
/// quotes every placeholder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationObject {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}
